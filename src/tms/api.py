"""The JSON APIs under /api/v1/ (django-ninja): OpenAPI at /api/v1/openapi.json, browsable
docs at /api/v1/docs, every error as RFC 9457 problem details."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from tms.core.problems import Problem, problem_response
from tms.integrations.api import router as agency_router
from tms.tracking.api import router as tracking_router

api = NinjaAPI(
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
    errors = [
        {
            "location": ".".join(str(part) for part in error.get("loc", [])),
            "message": error.get("msg", ""),
        }
        for error in exc.errors
    ]
    return problem_response(
        request, status=422, kind="validation", title="The request is not valid.", errors=errors
    )


@api.exception_handler(AuthenticationError)
def on_authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return problem_response(
        request, status=401, kind="unauthenticated", title="A valid bearer token is required."
    )


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return problem_response(request, status=404, kind="not-found", title="Not found.")


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return problem_response(
        request, status=exc.status_code, kind=f"http-{exc.status_code}", title=str(exc)
    )
