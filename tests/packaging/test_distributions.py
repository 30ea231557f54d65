"""The distributions a user installs, built and installed the way a user's tools do it.

The sdist and the wheel are built (with build isolation, as pip and uv do by default) from a clean copy of the tree:
the files git tracks, nothing generated. Each is installed into a fresh venv (a) with grpcio and protobuf pinned to
the floors the wheel declares and (b) with the newest releases, and every module of the package is imported there.
DESIGN.md: "Declared dependency floors are true": the generated gRPC code refuses to import beside a grpcio or
protobuf older than the grpcio-tools release that generated it, so those floors must match that release.

uv builds and installs (it caches wheels between runs); the only network it needs is PyPI.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.version import Version

pytestmark = [pytest.mark.slow, pytest.mark.packaging, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[2]
PACKAGE = "airflow_provider_batch"
# Every module, each imported on its own so that one failure does not hide the next; `__main__` modules run a CLI.
IMPORT_ALL = """
import importlib, importlib.metadata, pkgutil, sys
import airflow_provider_batch as package
assert package.__file__.startswith(sys.prefix), f"imported from {package.__file__}, not from the venv {sys.prefix}"
failed = []
names = [m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]
for name in names:
    if name.rsplit(".", 1)[-1] == "__main__":
        continue
    try:
        importlib.import_module(name)
    except Exception as error:
        failed.append(f"{name}: {type(error).__name__}: {error}")
entries = importlib.metadata.entry_points(group="apache_airflow_provider")
(entry,) = [e for e in entries if e.value.startswith("airflow_provider_batch")]
info = entry.load()()
assert info["package-name"] == "airflow-provider-batch", info.get("package-name")
versions = {d: importlib.metadata.version(d) for d in ("grpcio", "protobuf", "apache-airflow")}
print(f"imported {len(names)} modules with {versions}")
if failed:
    sys.exit("\\n".join(failed))
"""


def uv() -> str:
    from uv import find_uv_bin  # the test extra installs uv

    return find_uv_bin()


def run(command: list[str], cwd: Path, timeout: float, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout + result.stderr


def clean_copy(target: Path) -> Path:
    """The files git tracks (as they are in the work tree), without generated modules, venvs or build output."""
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True, timeout=30
    ).stdout
    for path in filter(None, tracked.split("\0")):
        if (REPO / path).is_file():
            (target / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / path, target / path)
    assert not (target / PACKAGE / "_proto" / "armada").exists(), "generated modules are tracked by git"
    return target


@dataclass(frozen=True)
class Built:
    sdist: Path
    wheel: Path
    source: Path

    def requirement(self, name: str) -> Requirement:
        """The wheel's declared (unconditional) requirement on `name`."""
        with zipfile.ZipFile(self.wheel) as archive:
            (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
            message = Parser().parsestr(archive.read(metadata).decode())
        for line in message.get_all("Requires-Dist") or []:
            requirement = Requirement(line)
            if requirement.name.lower() == name and requirement.marker is None:
                return requirement
        raise AssertionError(f"the wheel does not require {name}")

    def floor(self, name: str) -> Version:
        (floor,) = [Version(s.version) for s in self.requirement(name).specifier if s.operator == ">="]
        return floor


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    base = tmp_path_factory.mktemp("packaging")
    source = clean_copy(base / "source")
    out = base / "dist"
    # uv build makes the sdist, then the wheel from the unpacked sdist: the wheel proves the sdist is complete.
    run([uv(), "build", "--out-dir", str(out), str(source)], cwd=base, timeout=300)
    (sdist,) = out.glob("airflow_provider_batch-*.tar.gz")
    (wheel,) = out.glob("airflow_provider_batch-*.whl")
    yield Built(sdist=sdist, wheel=wheel, source=source)


def build_pin() -> Version:
    """The one place the grpcio-tools version is written: pyproject.toml's build-system pin."""
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["build-system"]["requires"]
    (tools,) = [Requirement(r) for r in requires if Requirement(r).name == "grpcio-tools"]
    (spec,) = tools.specifier
    assert spec.operator == "==", f"build-system pins grpcio-tools with {spec}: pin it exactly (==)"
    return Version(spec.version)


def test_the_declared_grpcio_and_protobuf_floors_are_what_the_generated_code_checks(built: Built) -> None:
    pin = build_pin()
    with zipfile.ZipFile(built.wheel) as archive:
        generated = {n: archive.read(n).decode() for n in archive.namelist() if re.search(r"_pb2(_grpc)?\.py$", n)}
    grpc_checks = {
        Version(v) for text in generated.values() for v in re.findall(r"GRPC_GENERATED_VERSION = '(.+)'", text)
    }
    protobuf_checks = {
        Version(".".join(m))
        for text in generated.values()
        for m in re.findall(r"ValidateProtobufRuntimeVersion\(\s*\S+,\s*(\d+),\s*(\d+),\s*(\d+),", text)
    }
    assert grpc_checks == {pin}, f"the _pb2_grpc modules were generated by grpcio-tools {grpc_checks}, pinned {pin}"
    assert built.floor("grpcio") == pin, f"grpcio floor {built.floor('grpcio')}, the gencode needs grpcio>={pin}"
    assert protobuf_checks, "no protobuf runtime check found in the generated _pb2 modules"
    assert built.floor("protobuf") == max(protobuf_checks), (
        f"protobuf floor {built.floor('protobuf')}, the gencode checks protobuf>={max(protobuf_checks)}"
    )


def test_the_grpcio_tools_version_is_written_once() -> None:
    pin = build_pin()
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    tools = [Requirement(r) for r in extras["test"] if Requirement(r).name == "grpcio-tools"]
    assert [str(r.specifier) for r in tools] == [f"=={pin}"], "the test extra's grpcio-tools must be the build pin"
    makefile = (REPO / "Makefile").read_text()
    assert str(pin) not in makefile, "the Makefile must read the grpcio-tools pin from pyproject.toml, not repeat it"


def test_the_wheel_has_the_generated_modules_and_py_typed(built: Built) -> None:
    names = set(zipfile.ZipFile(built.wheel).namelist())
    for name in (
        "py.typed",
        "_proto/pool.py",
        "_proto/armada/submit_pb2.py",
        "_proto/armada/submit_pb2.pyi",
        "_proto/armada/submit_pb2_grpc.py",
        "_proto/armada/event_pb2_grpc.py",
        "_proto/armada/binoculars_pb2_grpc.py",
        "_proto/armada/k8s/core_v1_pb2.py",
        "_proto/jobservice/jobservice_pb2_grpc.py",
    ):
        assert f"{PACKAGE}/{name}" in names, f"{name} is not in {built.wheel.name}"
    with tarfile.open(built.sdist) as archive:
        sdist = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for name in ("setup.py", "pyproject.toml", "protos/armada/submit.proto", f"{PACKAGE}/py.typed"):
        assert name in sdist, f"{name} is not in {built.sdist.name}: the wheel cannot be rebuilt from it"


@pytest.mark.parametrize("dependencies", ["floors", "newest"])
@pytest.mark.parametrize("distribution", ["wheel", "sdist"])
def test_installs_into_a_fresh_venv_and_imports_every_module(
    built: Built, distribution: str, dependencies: str, tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    run([uv(), "venv", "--quiet", "--python", sys.executable, str(venv)], cwd=tmp_path, timeout=60)
    python = venv / "bin" / "python"
    path = built.wheel if distribution == "wheel" else built.sdist
    # the emulators extra brings moto and flask, which the emulators import; postgres brings psycopg
    requirement = f"{PACKAGE}[emulators,postgres] @ {path.as_uri()}"
    command = [uv(), "pip", "install", "--quiet", "--python", str(python), requirement]
    if dependencies == "floors":
        command += [f"grpcio=={built.floor('grpcio')}", f"protobuf=={built.floor('protobuf')}"]
    else:
        command += ["--upgrade", "grpcio", "protobuf"]
    run(command, cwd=tmp_path, timeout=600)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "AIRFLOW_HOME": str(tmp_path / "airflow")}
    output = run([str(python), "-c", IMPORT_ALL], cwd=tmp_path, timeout=300, env=env)
    if dependencies == "floors":
        floors = f"'grpcio': '{built.floor('grpcio')}', 'protobuf': '{built.floor('protobuf')}'"
        assert floors in output, f"not at the floors: {output}"
