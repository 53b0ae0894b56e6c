"""The template language: lookups, filters, secrets, and what it refuses to do."""

from __future__ import annotations

import pytest

from correlator.act.template import (
    MissingSecretError,
    TemplateError,
    compile_template,
    render_value,
    template_strings,
)

CTX = {
    "incident": {
        "incident_id": "inc-1",
        "services": ["checkout", "payments", "payments-db"],
        "root_causes": [{"entity": "payments-db", "score": 0.9}],
        "labels": {"k8s.namespace": "shop", "team": "pay"},
        "alerts": [{"summary": "latency 900ms", "signal": "latency_p99"}],
    },
    "severity": "critical",
    "version": 3,
    "root_cause": "payments-db",
    "nothing": None,
}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("plain text", "plain text"),
        ("{{ incident.root_causes[0].entity }}", "payments-db"),
        ("{{incident.services[-1]}}", "payments-db"),
        ('{{ incident.labels["k8s.namespace"] }}', "shop"),
        ("ns={{ incident.labels['k8s.namespace'] }}!", "ns=shop!"),
        ("{{ incident.services }}", ["checkout", "payments", "payments-db"]),
        ("{{ version }}", 3),
        ("v{{ version }}", "v3"),
        ("{{ incident.missing | default('x') }}", "x"),
        ("{{ nothing | default('fallback') }}", "fallback"),
        ("{{ incident.root_causes[5].entity | default(root_cause) }}", "payments-db"),
        ("{{ severity | upper }}", "CRITICAL"),
        ("{{ incident.labels.team | lower }}", "pay"),
        ("{{ incident.services | join(', ') }}", "checkout, payments, payments-db"),
        ("{{ incident.services | first }}", "checkout"),
        ("{{ incident.services | last | upper }}", "PAYMENTS-DB"),
        ("{{ incident.services | length }}", 3),
        ("{{ incident.alerts[0].summary | truncate(8) }}", "laten..."),
        ("{{ incident.labels | json }}", '{"k8s.namespace": "shop", "team": "pay"}'),
        ("{{ root_cause | urlencode }}", "payments-db"),
        ("{{ severity | map('critical=P1,warning=P3', 'P5') }}", "P1"),
        ("{{ version | string }}", "3"),
        ("{{ incident.root_causes }}!", '[{"entity": "payments-db", "score": 0.9}]!'),
    ],
)
def test_render(source: str, expected: object) -> None:
    assert compile_template(source).render(CTX) == expected


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ }}", "empty placeholder"),
        ("{{ incident.title", "unbalanced"),
        ("{{ incident | eval }}", "unknown filter 'eval'"),
        ("{{ incident.__class__ }}", "no field"),
        ("{{ incident.services[0]() }}", "expected '| filter'"),
        ("{{ __import__('os').system('id') }}", "expected"),
        ("{{ 1 + 1 }}", "expected a field path"),
        ("{{ incident | upper(1) }}", "too many arguments"),
    ],
)
def test_malformed_templates_are_refused(source: str, message: str) -> None:
    with pytest.raises(TemplateError) as info:
        compile_template(source).render(CTX)
    assert message in str(info.value)


def test_missing_field_names_the_path() -> None:
    with pytest.raises(TemplateError, match=r"no field 'incident\.root_causes\[3\]\.entity'"):
        compile_template("{{ incident.root_causes[3].entity }}").render(CTX)


def test_lookups_only_reach_dict_keys_and_list_items() -> None:
    """Python attributes of values are not reachable: a str has no 'upper' key."""
    with pytest.raises(TemplateError, match="no field"):
        compile_template("{{ severity.upper }}").render(CTX)
    with pytest.raises(TemplateError, match="no field"):
        compile_template("{{ incident.services.__len__ }}").render(CTX)


def test_secrets_come_from_the_mapping_and_can_be_masked() -> None:
    template = compile_template("GenieKey ${ENV:OPSGENIE_API_KEY}")
    assert template.render(CTX, {"OPSGENIE_API_KEY": "k-123"}) == "GenieKey k-123"
    assert template.render(CTX, {"OPSGENIE_API_KEY": "k-123"}, mask=True) == "GenieKey ***"
    assert template.secret_names == ("OPSGENIE_API_KEY",)
    with pytest.raises(MissingSecretError, match="OPSGENIE_API_KEY is not set"):
        template.render(CTX, {})


def test_secret_fallback_is_used_when_unset_and_shown_unmasked() -> None:
    template = compile_template("${ENV:PD_URL:-https://events.pagerduty.com/v2/enqueue}")
    assert template.render(CTX, {}) == "https://events.pagerduty.com/v2/enqueue"
    assert template.render(CTX, {}, mask=True) == "https://events.pagerduty.com/v2/enqueue"
    assert template.render(CTX, {"PD_URL": "http://local"}) == "http://local"


def test_incident_text_is_never_rendered_twice() -> None:
    """A field carrying placeholder syntax stays literal: no secret leak, no recursion."""
    ctx = {"alert": {"summary": "${ENV:AWS_SECRET} {{ incident.labels }} $(reboot)"}}
    out = compile_template("summary: {{ alert.summary }}").render(ctx, {"AWS_SECRET": "s3cr3t"})
    assert out == "summary: ${ENV:AWS_SECRET} {{ incident.labels }} $(reboot)"


def test_render_value_walks_dicts_and_lists_but_not_keys() -> None:
    value = {"{{ key }}": ["{{ severity }}", 1, {"x": "{{ version }}"}], "n": None}
    assert render_value(value, CTX) == {"{{ key }}": ["critical", 1, {"x": 3}], "n": None}


def test_template_strings_reports_locations() -> None:
    assert template_strings({"a": ["x", {"b": "y"}], "n": 2}) == [
        (("a", 0), "x"),
        (("a", 1, "b"), "y"),
    ]
