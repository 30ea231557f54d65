"""Build hook: compile protos/ into airflow_provider_batch/_proto with grpcio-tools.

The generated modules are never edited by hand and never committed. Two mechanical rewrites keep them out of other
packages' way (see DESIGN.md, "Protos"): imports point inside this package, and every file registers in the
package's private descriptor pool instead of protobuf's default pool, so `armada_client` (which registers the same
`api.*` and k8s names in the default pool) can be imported in the same process.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
PROTO_ROOT = ROOT / "protos"
OUT = ROOT / "airflow_provider_batch" / "_proto"
TOP_PACKAGES = ("armada", "jobservice")
PKG = "airflow_provider_batch._proto"


def _rewrite(text: str) -> str:
    tops = "|".join(TOP_PACKAGES)
    text = re.sub(rf"^from ({tops})((?:\.\w+)*) import ", rf"from {PKG}.\1\2 import ", text, flags=re.M)
    text = re.sub(rf"^import ({tops})\.", rf"import {PKG}.\1.", text, flags=re.M)
    text = text.replace(
        "from google.protobuf import descriptor_pool as _descriptor_pool",
        f"from {PKG} import pool as _private_pool",
    )
    text = text.replace("_descriptor_pool.Default()", "_private_pool.POOL")
    text = re.sub(
        rf"_builder.BuildTopDescriptorsAndMessages\(DESCRIPTOR, '(({tops})[\w.]*)', _globals\)",
        rf"_builder.BuildTopDescriptorsAndMessages(DESCRIPTOR, '{PKG}.\1', _globals)",
        text,
    )
    return text


def generate_protos() -> None:
    import grpc_tools
    from grpc_tools import protoc  # build-time dependency, see pyproject.toml

    include = Path(grpc_tools.__file__).parent / "_proto"
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{include}",
        f"--python_out={OUT}",
        f"--pyi_out={OUT}",
        f"--grpc_python_out={OUT}",
        *protos,
    ]
    if protoc.main(args) != 0:
        sys.exit("protoc failed on protos/: see the message above")
    for path in OUT.rglob("*_pb2*"):
        path.write_text(_rewrite(path.read_text()))
    for folder in [p for p in OUT.rglob("*") if p.is_dir()]:
        init = folder / "__init__.py"
        if not init.exists():
            init.write_text("")


class BuildWithProtos(build_py):
    def run(self) -> None:
        generate_protos()
        # setuptools listed the packages before they were generated: a wheel built from a clean tree would miss them.
        from setuptools import find_packages

        found = find_packages(str(ROOT), include=["airflow_provider_batch*"])
        self.packages = sorted(set(self.packages or []) | set(found))
        if self.distribution.packages is not None:
            self.distribution.packages = self.packages
        super().run()


if __name__ == "__main__" and sys.argv[1:] == ["generate"]:
    generate_protos()
else:
    setup(cmdclass={"build_py": BuildWithProtos})
