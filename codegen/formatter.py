"""A datamodel-code-generator custom formatter: drop the dataclasses import.

The `dataclasses.dataclass` output type always imports `dataclass`, but our template emits attrs
classes, so the import is dead (and ruff would flag it).
"""

import re

from datamodel_code_generator.format import CustomCodeFormatter

_ALONE = re.compile(r"\n\nfrom dataclasses import [^\n]+\n\n", re.MULTILINE)
_LINE = re.compile(r"^from dataclasses import [^\n]+\n", re.MULTILINE)


class CodeFormatter(CustomCodeFormatter):
    def apply(self, code: str) -> str:
        code = _ALONE.sub("\n\n", code)
        return _LINE.sub("", code)
