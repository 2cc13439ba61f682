"""openapi/catalogs.yaml → gigstack_async/catalogs.py: typed, open enums, generated and checked."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

from codegen.generate import (
    DEFAULT_CATALOGS,
    DEFAULT_COVERAGE,
    DEFAULT_SPEC,
    check_extras,
    generate_extras,
)
from codegen.spec import SPEC_DIR, spec_files

FIXTURE = Path(__file__).parent / "fixtures" / "spec" / "catalogs.yaml"

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def catalogs(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    spec_dir = tmp_path_factory.mktemp("openapi")
    for path in spec_files(SPEC_DIR):
        shutil.copy(path, spec_dir / path.name)
    shutil.copy(FIXTURE, spec_dir / "catalogs.yaml")
    out = tmp_path_factory.mktemp("out")
    generate_extras(spec_dir, catalogs=out / "catalogs.py", coverage=out / "coverage.md")
    first = (out / "catalogs.py").read_bytes()
    generate_extras(spec_dir, catalogs=out / "catalogs.py", coverage=out / "coverage.md")
    assert (out / "catalogs.py").read_bytes() == first  # deterministic
    spec = importlib.util.spec_from_file_location("_fixture_catalogs", out / "catalogs.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["_fixture_catalogs"] = module
    spec.loader.exec_module(module)
    return module


def test_every_row_is_a_member_with_its_description_and_attributes(catalogs) -> None:
    regime = catalogs.TaxRegime("601")
    assert regime is catalogs.TaxRegime.C601
    assert regime == "601"
    assert regime.description == "General de Ley Personas Morales"
    assert regime.attributes == {"persona_fisica": False, "persona_moral": True}
    assert regime.source == "FACT-docs"  # the catalog's source when the row gives none
    assert catalogs.TaxRegime.C616.source == "FACT-3p"
    assert catalogs.PaymentMethod.PUE.description == "Pago en una sola exhibición"
    assert [row.code for row in catalogs.TaxRegime.rows()] == ["601", "616"]
    assert catalogs.TaxRegime.info().docs.startswith("https://docs.gigstack.io/tax-regimes")
    assert "Docs: https://docs.gigstack.io/tax-regimes" in catalogs.TaxRegime.__doc__
    assert sorted(catalogs.__all__) == ["PaymentMethod", "TaxRegime"]


def test_catalogs_are_open_but_say_what_is_known(catalogs) -> None:
    new = catalogs.TaxRegime("699")
    assert isinstance(new, catalogs.TaxRegime)
    assert new == "699"
    assert not new.is_known
    assert new.description == ""
    assert catalogs.TaxRegime.C601.is_known
    assert catalogs.TaxRegime.known("601")
    assert not catalogs.TaxRegime.known("699")
    assert not catalogs.TaxRegime.known(601)
    with pytest.raises(ValueError, match="is not a valid"):
        catalogs.TaxRegime("")


def test_committed_catalogs_and_coverage_are_up_to_date() -> None:
    assert check_extras(DEFAULT_SPEC, catalogs=DEFAULT_CATALOGS, coverage=DEFAULT_COVERAGE) == ""
