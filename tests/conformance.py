"""Whether a real answer is one the OpenAPI schema documents, judged by schemathesis (the same
validator as `make test-schema`): its status and media type are documented for the operation,
and its body matches the documented schema (a `oneOf` exactly one branch)."""

from __future__ import annotations

from typing import Any

import requests
from django.test import Client
from schemathesis import Response
from schemathesis.openapi import from_dict


class Conformance:
    """The API's own schema, as `/api/schema/` serves it."""

    def __init__(self) -> None:
        answer = Client().get("/api/schema/", HTTP_ACCEPT="application/json")
        assert answer.status_code == 200
        self.document: dict[str, Any] = answer.json()
        self.schema = from_dict(self.document)

    def check(self, method: str, path: str, response: Any) -> None:
        """Fail unless `response` (a Django test client response to `method` on the documented
        `path`, e.g. `/api/v1/usage/{usage_id}`) conforms to the schema."""
        responses = self.document["paths"][path][method.lower()]["responses"]
        status = str(response.status_code)
        assert status in responses, f"{method} {path}: status {status} is not documented"
        media_type = response["Content-Type"].split(";")[0].strip()
        documented = responses[status].get("content", {})
        assert media_type in documented, (
            f"{method} {path}: {status} {media_type} is not documented ({sorted(documented)})"
        )
        request = requests.Request(method.upper(), f"http://testserver{path}").prepare()
        answer = Response(
            status_code=response.status_code,
            headers={name.lower(): [value] for name, value in response.items()},
            content=response.content,
            request=request,
            elapsed=0.0,
            verify=True,
        )
        self.schema[path][method.upper()].validate_response(answer)
