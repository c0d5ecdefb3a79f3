"""Any catalog text, any JSON in any field: parse_catalog returns campaigns or raises
CatalogError, its documented error, with every problem printable (no lone surrogate)
and naming the file; what it returns can be served."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from services.campaigns.catalog import build_catalog
from services.campaigns.catalog_file import parse_catalog
from services.campaigns.errors import CatalogError
from services.transport.campaign_messages import campaign_from_message, campaign_to_message
from tests.conftest import TEST_DATA
from tests.json_strategies import FRAGMENTS, VALUES, to_text, with_field

SOURCE = "catalog.json"
SAMPLE: dict[str, Any] = json.loads((TEST_DATA / "campaign.json").read_text())
FIELDS = [
    ["game"], ["name"], ["priority"], ["matchers"], ["matchers", "level"],
    ["matchers", "level", "min"], ["matchers", "level", "max"], ["matchers", "has"],
    ["matchers", "has", "country"], ["matchers", "has", "items"],
    ["matchers", "does_not_have", "items"], ["start_date"], ["end_date"], ["enabled"],
    ["last_updated"], ["unknown"],
]  # fmt: skip


def check(text: str | bytes) -> None:
    try:
        campaigns = parse_catalog(text, SOURCE)
    except CatalogError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.startswith(f"{SOURCE}: ")
            problem.encode("utf-8")
    else:
        # What was accepted can be served: versioned, and sent as messages.
        build_catalog(campaigns)
        for campaign in campaigns:
            assert campaign_from_message(campaign_to_message(campaign)) == campaign


@st.composite
def catalogs(draw: st.DrawFn) -> str:
    """The sample with fields set to anything, as one campaign or as a list."""
    docs = [
        with_field(SAMPLE, draw(st.sampled_from(FIELDS)), draw(VALUES))
        for _ in range(draw(st.integers(min_value=1, max_value=3)))
    ]
    if len(docs) == 1 and draw(st.booleans()):
        return to_text(docs[0])
    return "[" + ", ".join(to_text(d) for d in docs) + "]"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=catalogs())
@example(text=json.dumps([SAMPLE]).replace('"max": 3', '"max": 1' + "0" * 4999))
@example(text=json.dumps([SAMPLE]).replace('["item_1"]', "[" * 100_000 + "]" * 100_000))
@example(text=json.dumps([SAMPLE]).replace("mycampaign", "\\ud800"))
def test_campaigns_with_any_field_value(text: str) -> None:
    check(text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=VALUES)
def test_any_json_value(value: Any) -> None:
    check(to_text(value))


@settings(max_examples=150, deadline=None)
@given(content=FRAGMENTS | FRAGMENTS.map(str.encode) | st.binary(max_size=64))
def test_any_text_or_bytes(content: str | bytes) -> None:
    check(content)
