"""The JSON APIs under /api/v1/ (django-ninja): OpenAPI at /api/v1/openapi.json, browsable
docs at /api/v1/docs, every error as RFC 9457 problem details."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from tms.core.problems import Problem, problem_response
from tms.integrations.api import router as agency_router
from tms.tracking.api import router as tracking_router


class ProblemsAPI(NinjaAPI):
    """Declares every error answer as application/problem+json, as it is sent."""

    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        schema = super().get_openapi_schema(*args, **kwargs)
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                for status, answer in operation.get("responses", {}).items():
                    content = answer.get("content")
                    if str(status)[0] in "45" and content and "application/json" in content:
                        content["application/problem+json"] = content.pop("application/json")
        return schema


api = ProblemsAPI(
    title="Track My Service API",
    version="1",
    description=(
        "Public tracking of government document applications, and (with a token) the "
        "agency integration API. Errors are RFC 9457 problem details."
    ),
    urls_namespace="api-v1",
)
api.add_router("/track/", tracking_router)
api.add_router("/agency/", agency_router)


@api.exception_handler(Problem)
def on_problem(request: HttpRequest, exc: Problem) -> HttpResponse:
    return problem_response(
        request,
        status=exc.status,
        kind=exc.kind,
        title=exc.title,
        detail=exc.detail,
        headers={k: str(v) for k, v in exc.extra.pop("headers", {}).items()},
        **exc.extra,
    )


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = []
    for error in exc.errors:
        location = [str(part) for part in error.get("loc", [])]
        # ["body", "payload", "items", "3", "service"] → index 3, field "service"
        if location[:2] == ["body", "payload"]:
            location = location[2:]
        entry: dict[str, object] = {"field": ".".join(location), "message": error.get("msg", "")}
        if len(location) >= 2 and location[0] == "items" and location[1].isdigit():
            entry["index"] = int(location[1])
            entry["field"] = ".".join(location[2:])
        errors.append(entry)
    return problem_response(
        request, status=422, kind="validation", title="The request is not valid.", errors=errors
    )


@api.exception_handler(AuthenticationError)
def on_authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return problem_response(
        request,
        status=401,
        kind="unauthenticated",
        title="A valid bearer token is required.",
        headers={"WWW-Authenticate": 'Bearer realm="api"'},
    )


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return problem_response(request, status=404, kind="not-found", title="Not found.")


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return problem_response(
        request, status=exc.status_code, kind=f"http-{exc.status_code}", title=str(exc)
    )
