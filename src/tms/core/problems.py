"""RFC 9457 problem details: the one error shape under /api/v1/."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

PROBLEM_TYPE_BASE = "https://trackmyservice.go.ke/problems/"


class Problem(Exception):
    """Raise anywhere under /api/v1/ to answer with a problem document."""

    def __init__(self, status: int, kind: str, title: str, detail: str = "", **extra: Any) -> None:
        super().__init__(detail or title)
        self.status, self.kind, self.title, self.detail, self.extra = (
            status,
            kind,
            title,
            detail,
            extra,
        )


def problem_response(
    request: HttpRequest,
    *,
    status: int,
    kind: str,
    title: str,
    detail: str = "",
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> HttpResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + kind,
        "title": title,
        "status": status,
        "instance": request.path,
    }
    if detail:
        body["detail"] = detail
    body.update(extra)
    response = JsonResponse(body, status=status, content_type="application/problem+json")
    for name, value in (headers or {}).items():
        response[name] = value
    return response


class ApiProblemsMiddleware:
    """Under /api/v1/, answers that Django makes outside the API's own handlers (an
    unknown path, a wrong method) become problem documents too: one error shape."""

    PREFIX = "/api/v1/"

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response: HttpResponse = self.get_response(request)
        if (
            request.path.startswith(self.PREFIX)
            and response.status_code in (404, 405)
            and response.get("Content-Type", "").split(";")[0] != "application/problem+json"
        ):
            allow = response.get("Allow")
            title = "Not found." if response.status_code == 404 else "Method not allowed."
            kind = "not-found" if response.status_code == 404 else "method-not-allowed"
            response = problem_response(
                request,
                status=response.status_code,
                kind=kind,
                title=title,
                headers={"Allow": allow} if allow else None,
            )
        return response
