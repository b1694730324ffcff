"""Tests for datasette_dataservice.schema.descriptor.check_descriptor."""

from __future__ import annotations

import copy
import json
import re
import socket
from pathlib import Path
from typing import Any

import pytest

from datasette_dataservice.schema.descriptor import V2_PROFILE, check_descriptor

CONFORMANCE = Path(__file__).resolve().parent / "fixtures" / "frictionless"

USERS_SCHEMA = {
    "fields": [
        {"name": "id", "type": "integer", "constraints": {"required": True, "unique": True}},
        {"name": "email", "type": "string", "format": "email", "constraints": {"required": True}},
        {"name": "name", "type": "string", "constraints": {"required": True}},
        {"name": "created_at", "type": "datetime"},
    ],
    "primaryKey": ["id"],
}


def schema_fixtures() -> list[Any]:
    """(fixture path, expected validity) for each row of INDEX.md's "Schema descriptors"."""
    index = CONFORMANCE / "INDEX.md"
    if not index.is_file():
        return [pytest.param(None, None, id="conformance-fixtures-missing")]
    section = index.read_text(encoding="utf-8").split("## Schema descriptors", 1)[-1]
    section = section.split("\n## ", 1)[0]
    params = []
    for fixture, expected in re.findall(r"^\| `([^`]+)` \| ([^|]+) \|", section, re.M):
        if " + " in fixture:  # "dir/data.csv + schema.json": the schema beside the data
            data, schema = fixture.split(" + ")
            fixture = str(Path(data).parent / schema)
        params.append(pytest.param(fixture, not expected.startswith("invalid"), id=fixture))
    return params or [pytest.param(None, None, id="conformance-index-has-no-schema-rows")]


@pytest.mark.parametrize("fixture, expected_valid", schema_fixtures())
def test_conformance_schema_descriptors(fixture: str | None, expected_valid: bool | None) -> None:
    if fixture is None:
        pytest.fail(
            f"conformance fixtures not found: expected {CONFORMANCE}/INDEX.md with a "
            '"## Schema descriptors" table (tests/fixtures/frictionless)'
        )
    path = CONFORMANCE / fixture
    assert path.is_file(), f"fixture listed in INDEX.md is missing: {path}"
    problems = check_descriptor(json.loads(path.read_text(encoding="utf-8")))
    if expected_valid:
        assert problems == []
    else:
        assert problems, f"{fixture} should be reported invalid"
        assert all(isinstance(p, str) and p for p in problems)
        assert len(problems) == len(set(problems)), problems


def test_seed_users_schema_is_valid() -> None:
    assert check_descriptor(USERS_SCHEMA) == []


def schema(*fields: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"fields": list(fields), **top}


def only_problem(descriptor: object) -> str:
    problems = check_descriptor(descriptor)
    assert len(problems) == 1, problems
    return problems[0]


# The descriptor as a whole


@pytest.mark.parametrize("descriptor", [[], "schema.json", None, 5, [{"name": "id"}]])
def test_descriptor_must_be_an_object(descriptor: object) -> None:
    assert "must be a JSON object" in only_problem(descriptor)


def test_a_string_descriptor_is_not_opened_as_a_path(tmp_path: Path) -> None:
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(USERS_SCHEMA))
    assert "must be a JSON object" in only_problem(str(path))


@pytest.mark.parametrize(
    "descriptor, expected",
    [
        ({}, '"fields" is missing'),
        ({"primaryKey": ["id"]}, '"fields" is missing'),
        ({"fields": {"name": "id"}}, '"fields" must be a list'),
        ({"fields": []}, '"fields" is empty'),
    ],
)
def test_fields_must_be_a_non_empty_list(descriptor: dict[str, Any], expected: str) -> None:
    assert any(expected in p for p in check_descriptor(descriptor))


def test_non_object_field() -> None:
    problems = check_descriptor(schema({"name": "id"}, "email", 3))
    assert len(problems) == 2, problems
    assert problems[0].startswith("fields[1] must be an object") and '"email"' in problems[0]
    assert problems[1].startswith("fields[2] must be an object")


@pytest.mark.parametrize(
    "field, expected",
    [
        ({"type": "integer"}, 'fields[1]: "name" is missing'),
        ({"name": 5}, 'fields[1]: "name" must be a non-empty string, not 5'),
        ({"name": ""}, 'fields[1]: "name" must be a non-empty string'),
        ({"name": "  "}, 'fields[1]: "name" must be a non-empty string'),
        ({"name": None}, 'fields[1]: "name" must be a non-empty string, not null'),
    ],
)
def test_field_name(field: dict[str, Any], expected: str) -> None:
    assert only_problem(schema({"name": "id"}, field)).startswith(expected)


def test_duplicate_field_names() -> None:
    problem = only_problem(schema({"name": "id"}, {"name": "age"}, {"name": "id"}))
    assert problem.startswith('fields[2] ("id"): ')
    assert "fields[0]" in problem and "rename" in problem


def test_field_names_differing_only_in_case_clash() -> None:
    problem = only_problem(schema({"name": "email"}, {"name": "Email"}))
    assert problem.startswith('fields[1] ("Email"): ')
    assert 'fields[0] ("email")' in problem and "case-insensitive" in problem


@pytest.mark.parametrize("type_", ["magical_unicorn", 123, "", None, "Integer"])
def test_unknown_field_type(type_: object) -> None:
    descriptor = schema({"name": "id"}, {"name": "title"}, {"name": "age", "type": type_})
    problem = only_problem(descriptor)
    assert problem.startswith(f'fields[2] ("age"): field type {json.dumps(type_)} is not supported')
    assert "integer" in problem  # lists the types to choose from


@pytest.mark.parametrize("key", ["required", "unique", "pattern", "enum", "minimum", "maxLength"])
def test_constraint_outside_constraints(key: str) -> None:
    value = {"required": True, "unique": True, "pattern": "a+", "enum": ["a"]}.get(key, 3)
    problem = only_problem(schema({"name": "id"}, {"name": "code", "type": "string", key: value}))
    assert problem.startswith('fields[1] ("code"): ')
    assert f'"{key}" must go inside "constraints"' in problem


def test_v2_exclusive_bounds_need_the_v2_profile() -> None:
    field = {"name": "age", "type": "integer", "constraints": {"exclusiveMinimum": 0}}
    problem = only_problem(schema(field))
    assert problem.startswith('fields[0] ("age"): ') and V2_PROFILE in problem
    assert check_descriptor(schema(field, **{"$schema": V2_PROFILE})) == []


# Constraints


def constraint_problems(type_: str, constraints: dict[str, Any], **extra: Any) -> list[str]:
    """Problems of a v2 schema whose second field has these constraints."""
    field = {"name": "value", "type": type_, "constraints": constraints, **extra}
    descriptor = schema({"name": "id", "type": "integer"}, field, **{"$schema": V2_PROFILE})
    problems = check_descriptor(descriptor)
    assert all(p.startswith('fields[1] ("value"): ') for p in problems), problems
    return problems


@pytest.mark.parametrize(
    "type_, constraints, expected",
    [
        ("integer", {"minimum": "abc"}, '"constraints.minimum": "abc" is not a valid integer'),
        ("integer", {"maximum": 1.5}, '"constraints.maximum": 1.5 is not a valid integer'),
        ("integer", {"minimum": True}, '"constraints.minimum": true is not a valid integer'),
        ("date", {"minimum": "today"}, '"constraints.minimum": "today" is not a valid date'),
        ("string", {"minLength": -1}, '"constraints.minLength" must be 0 or more, not -1'),
        ("string", {"maxLength": "10"}, '"constraints.maxLength" must be an integer, not "10"'),
        ("string", {"minLength": 5, "maxLength": 2}, '"constraints.minLength" (5) must be at most'),
        ("integer", {"minimum": 10, "maximum": 1}, '"constraints.minimum" (10) must be at most'),
        ("number", {"exclusiveMinimum": 1, "maximum": 1}, "must be less than"),
        ("date", {"minimum": "2024-12-31", "maximum": "2024-01-01"}, "must be at most"),
        ("integer", {"enum": []}, '"constraints.enum" is empty'),
        ("integer", {"enum": 3}, '"constraints.enum" must be a list, not 3'),
        ("integer", {"enum": [1, "two", 3]}, '"constraints.enum[1]": "two" is not a valid integer'),
        ("boolean", {"enum": ["maybe"]}, '"constraints.enum[0]": "maybe" is not a valid boolean'),
        ("string", {"pattern": "([a-z]"}, '"constraints.pattern" is not a valid regular'),
        ("string", {"pattern": 5}, '"constraints.pattern" must be a string, not 5'),
        ("string", {"required": "yes"}, '"constraints.required" must be a boolean, not "yes"'),
        ("integer", {"minLength": 1}, 'constraint "minLength" does not apply to type "integer"'),
        ("string", {"sorted": True}, 'constraint "sorted" does not apply to type "string"'),
    ],
)
def test_constraint_problem(type_: str, constraints: dict[str, Any], expected: str) -> None:
    problems = constraint_problems(type_, constraints)
    assert len(problems) == 1, problems
    assert expected in problems[0]


def test_constraint_values_are_read_with_the_field_format() -> None:
    constraints = {"minimum": "01/02/2024", "enum": ["01/02/2024", "2024-02-01"]}
    problems = constraint_problems("date", constraints, format="%d/%m/%Y")
    assert len(problems) == 1, problems
    expected = '"constraints.enum[1]": "2024-02-01" is not a valid date (format "%d/%m/%Y")'
    assert expected in problems[0]


@pytest.mark.parametrize(
    "type_, constraints",
    [
        ("integer", {"minimum": 0, "maximum": 150, "enum": [1, 2, 3]}),
        ("integer", {"minimum": "5"}),  # frictionless reads constraint values like cells
        ("number", {"minimum": 0.5, "maximum": 0.5}),
        ("string", {"minLength": 0, "maxLength": 0, "pattern": r"^\d{3}-[A-Z]+$"}),
        ("date", {"minimum": "2024-01-01", "maximum": "2024-12-31"}),
        ("boolean", {"enum": [True, "false"]}),
        ("any", {"enum": [1, "a", [2]]}),
        ("string", {"unique": True, "required": False, "enum": ["a", "b"]}),
    ],
)
def test_valid_constraints(type_: str, constraints: dict[str, Any]) -> None:
    assert constraint_problems(type_, constraints) == []


# Keys


@pytest.mark.parametrize("primary_key", ["identifier", ["id", "titel"]])
def test_primary_key_names_unknown_field(primary_key: object) -> None:
    descriptor = schema({"name": "id"}, {"name": "title"}, primaryKey=primary_key)
    problem = only_problem(descriptor)
    missing = "identifier" if primary_key == "identifier" else "titel"
    assert problem.startswith(f'"primaryKey" names field "{missing}", which does not exist')
    assert '"id", "title"' in problem  # the fields to choose from


def test_primary_key_of_wrong_type() -> None:
    assert only_problem(schema({"name": "id"}, primaryKey=1)).startswith('"primaryKey" must be')


def test_unique_keys_name_unknown_fields() -> None:
    descriptor = schema({"name": "id"}, {"name": "email"}, uniqueKeys=[["email"], ["mail"], "id"])
    problems = check_descriptor(descriptor)
    assert len(problems) == 2, problems
    assert problems[0].startswith('"uniqueKeys[1]" names field "mail", which does not exist')
    assert problems[1] == '"uniqueKeys[2]" must be a list of field names, not "id"'


def test_foreign_key_names_unknown_field() -> None:
    fk = {"fields": ["owner"], "reference": {"resource": "users", "fields": ["id"]}}
    problem = only_problem(schema({"name": "id"}, foreignKeys=[fk]))
    assert problem.startswith('"foreignKeys[0].fields" names field "owner", which does not exist')


def test_self_referencing_foreign_key_names_unknown_field() -> None:
    fk = {"fields": "parent", "reference": {"resource": "", "fields": "ident"}}
    problem = only_problem(schema({"name": "id"}, {"name": "parent"}, foreignKeys=[fk]))
    assert problem.startswith('"foreignKeys[0].reference.fields" names field "ident"')


def test_foreign_key_length_mismatch() -> None:
    fk = {"fields": ["a", "b"], "reference": {"resource": "other", "fields": "id"}}
    problem = only_problem(schema({"name": "a"}, {"name": "b"}, foreignKeys=[fk]))
    assert problem.startswith('"foreignKeys[0]": "fields" has 2 field(s) but "reference.fields"')


@pytest.mark.parametrize(
    "fk, expected",
    [
        ({"fields": "a"}, '"foreignKeys[0].reference" must be an object'),
        ("a", '"foreignKeys[0]" must be an object'),
        ({"fields": [], "reference": {"resource": "t", "fields": []}}, '"foreignKeys[0].fields"'),
    ],
)
def test_malformed_foreign_key(fk: object, expected: str) -> None:
    problems = check_descriptor(schema({"name": "a"}, foreignKeys=[fk]))
    assert problems and problems[0].startswith(expected), problems


# missingValues


@pytest.mark.parametrize(
    "missing_values, expected",
    [
        ("NA", '"missingValues" must be a list of strings'),
        (["", 0], '"missingValues[1]" must be a string'),
        (["", None], '"missingValues[1]" must be a string'),
        (["", {"value": "NA"}], '"missingValues" must not mix strings and objects'),
    ],
)
def test_missing_values(missing_values: object, expected: str) -> None:
    v2 = {"$schema": V2_PROFILE}
    descriptor = schema({"name": "a"}, missingValues=missing_values, **v2)
    assert only_problem(descriptor).startswith(expected)
    field_level = schema({"name": "a", "missingValues": missing_values}, **v2)
    assert only_problem(field_level).startswith(f'fields[0] ("a"): {expected}')


def test_missing_values_objects_need_v2() -> None:
    descriptor = schema({"name": "a"}, missingValues=[{"value": "NA", "label": "n/a"}])
    assert V2_PROFILE in only_problem(descriptor)
    assert check_descriptor({**descriptor, "$schema": V2_PROFILE}) == []


# Table Schema v2 and the rest


def test_v2_descriptor_is_valid() -> None:
    descriptor = {
        "$schema": V2_PROFILE,
        "fields": [
            {"name": "id", "type": "integer", "constraints": {"exclusiveMinimum": 0}},
            {"name": "tags", "type": "list", "itemType": "string", "delimiter": ";"},
            {"name": "size", "type": "string", "categories": ["S", "M", "L"]},
            {"name": "parent", "type": "integer"},
        ],
        "primaryKey": "id",
        "uniqueKeys": [["tags", "size"]],
        "foreignKeys": [{"fields": "parent", "reference": {"fields": "id"}}],
        "fieldsMatch": "subset",
        "missingValues": [{"value": "", "label": "blank"}, {"value": "-"}],
    }
    assert check_descriptor(descriptor) == []


def test_frictionless_notes_are_reworded_and_located() -> None:
    field = {"name": "a", "type": "integer", "example": "x"}
    problems = check_descriptor(schema(field, fieldsMatch="most"))
    assert sorted(problems) == [
        '"fieldsMatch" must be one of ["exact", "equal", "subset", "superset", "partial"], '
        'not "most"',
        'fields[0] ("a"): "example" value "x" does not match the field type and format',
    ]


def test_no_network_for_schema_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("check_descriptor must not use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    for profile in [V2_PROFILE, "https://example.com/my-profile.json", "file:///etc/passwd"]:
        assert check_descriptor({**USERS_SCHEMA, "$schema": profile}) == []
    assert check_descriptor({**USERS_SCHEMA, "$schema": 5}) == [
        f'"$schema" must be a profile URL such as "{V2_PROFILE}"'
    ]


def test_descriptor_is_not_modified() -> None:
    descriptor = schema(
        {"name": "id", "required": True, "format": "fmt:%Y"},
        primaryKey="id",
        foreignKeys=[{"fields": "id", "reference": {"resource": "", "fields": "id"}}],
    )
    before = copy.deepcopy(descriptor)
    check_descriptor(descriptor)
    assert descriptor == before


def test_every_problem_is_reported_once() -> None:
    descriptor = {
        "fields": [
            {"name": "id", "type": "integer", "required": True},
            {"name": "ID", "type": "magical_unicorn"},
            {"name": "age", "type": "integer", "constraints": {"minimum": 10, "maximum": 1}},
            {"name": "code", "type": "string", "constraints": {"pattern": "(", "minLength": -2}},
            "oops",
            {"type": "string"},
        ],
        "primaryKey": ["identifier"],
        "uniqueKeys": [["code", "nope"]],
        "foreignKeys": [{"fields": ["age", "code"], "reference": {"resource": "x", "fields": "y"}}],
        "missingValues": ["", 3],
    }
    problems = check_descriptor(descriptor)
    expected_starts = [
        '"missingValues[1]" must be a string',
        "fields[4] must be an object",
        'fields[5]: "name" is missing',
        'fields[1] ("ID"): name "ID" clashes with fields[0] ("id")',
        'fields[0] ("id"): "required" must go inside "constraints"',
        'fields[1] ("ID"): field type "magical_unicorn" is not supported',
        'fields[2] ("age"): "constraints.minimum" (10) must be at most "constraints.maximum" (1)',
        'fields[3] ("code"): "constraints.pattern" is not a valid regular expression',
        'fields[3] ("code"): "constraints.minLength" must be 0 or more, not -2',
        '"primaryKey" names field "identifier", which does not exist',
        '"uniqueKeys[0]" names field "nope", which does not exist',
        '"foreignKeys[0]": "fields" has 2 field(s) but "reference.fields" has 1',
    ]
    assert len(problems) == len(expected_starts), problems
    for start in expected_starts:
        assert sum(p.startswith(start) for p in problems) == 1, (start, problems)


def test_frictionless_and_own_checks_do_not_duplicate() -> None:
    # frictionless reports each of these too, in its own words
    descriptor = schema(
        {"name": "id", "type": "magical_unicorn", "required": True},
        {"name": "id"},
        {"name": "x", "type": "integer", "constraints": {"minLength": 1}},
        primaryKey="nope",
        foreignKeys=[{"fields": "nope", "reference": {"resource": "r", "fields": ["a", "b"]}}],
    )
    problems = check_descriptor(descriptor)
    assert len(problems) == 7, problems  # the foreign key has two problems
    assert not any("frictionless" in p or "{'" in p for p in problems)
