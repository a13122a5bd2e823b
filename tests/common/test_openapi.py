"""What each service's OpenAPI schema declares beyond its fields: the write token on writes only,
strict request bodies, and the errors each operation can answer with. (That the constraints match
what the API enforces is the fuzz suite's job: tests/fuzz.)"""

import pytest
from drf_spectacular.generators import SchemaGenerator

WRITES = {"post", "put", "patch", "delete"}


@pytest.fixture(scope="module", params=["customers", "products", "invoices"])
def schema(request) -> dict:
    return SchemaGenerator(urlconf=f"config.urls.{request.param}").get_schema(request=None, public=True)


def operations(schema: dict):
    for path, path_item in schema["paths"].items():
        for method, operation in path_item.items():
            yield path, method, operation


def test_writes_need_the_bearer_token_and_reads_do_not(schema):
    scheme = schema["components"]["securitySchemes"]["writeToken"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for _, method, operation in operations(schema):
        if method in WRITES:
            assert operation["security"] == [{"writeToken": []}]
            assert "WWW-Authenticate" in operation["responses"]["401"]["headers"]
        else:
            assert "security" not in operation
            assert "401" not in operation["responses"]


def test_request_bodies_refuse_unknown_fields(schema):
    bodies = [
        schema["components"]["schemas"][name] for name in schema["components"]["schemas"] if name.endswith("Request")
    ]

    assert bodies
    assert all(body["additionalProperties"] is False for body in bodies)


def test_every_error_has_the_error_shape_and_writes_document_body_limits(schema):
    for path, method, operation in operations(schema):
        errors = {status: r for status, r in operation["responses"].items() if status >= "400"}
        assert {"400", "406", "429", "503"} <= set(errors), (method, path)
        assert ("404" in errors) == ("{id}" in path), (method, path)
        assert ({"413", "415", "507"} <= set(errors)) == (method in {"post", "put", "patch"}), (method, path)
        for response in errors.values():
            assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_creates_declare_the_idempotency_key_and_what_a_replay_answers(schema):
    creates = [operation for path, method, operation in operations(schema) if method == "post"]

    assert len(creates) == 1
    (create,) = creates
    (key,) = [parameter for parameter in create["parameters"] if parameter["name"] == "Idempotency-Key"]
    assert (key["in"], key["schema"]["maxLength"]) == ("header", 200)
    assert create["responses"]["201"]["headers"]["Idempotent-Replayed"]["schema"]["enum"] == ["true"]
    assert "422" in create["responses"]
