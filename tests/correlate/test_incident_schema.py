"""The published incident change schema (docs/incident-schema.json) matches the model.

Regenerate after a deliberate model change with ``CORRELATOR_WRITE_SCHEMA=1 pytest`` on
this file, and bump ``SCHEMA_VERSION`` if a consumer could break.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from correlator.model.incident import SCHEMA_VERSION, IncidentChange

SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "incident-schema.json"


def current() -> str:
    schema = IncidentChange.model_json_schema(mode="serialization")
    schema["$id"] = f"https://correlator.dev/schemas/incident-change/v{SCHEMA_VERSION}.json"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def test_incident_schema_file_is_current() -> None:
    if os.environ.get("CORRELATOR_WRITE_SCHEMA"):
        SCHEMA.write_text(current())
    assert SCHEMA.read_text() == current(), "docs/incident-schema.json is stale; regenerate it"
