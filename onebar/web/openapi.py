"""The OpenAPI 3.1 description of the JSON API, checked by the test suite."""

from __future__ import annotations

from typing import Any

from .. import __version__

_USER = {
    "type": "object",
    "required": ["id", "name", "email", "initials", "avatar_url", "email_verified"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "description": "Stable, opaque user id."},
        "name": {"type": "string", "description": "Display name: plain text, never HTML."},
        "email": {"type": "string", "description": "As the user typed it. Key your records on id, never on "
                  "email; trust it as the user's mailbox only when email_verified is true."},
        "initials": {"type": "string", "maxLength": 2},
        "avatar_url": {"type": ["string", "null"], "description": "An https image URL, or null: draw initials."},
        "email_verified": {"type": "boolean", "description": "True once the user opened a confirmation link "
                           "sent to this email; false again after the email changes. Added in 0.2: older "
                           "clients may ignore it."},
    },
}

_ME = {
    "type": "object",
    "required": ["user", "apps", "links"],
    "additionalProperties": False,
    "properties": {
        "user": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/User"}]},
        "apps": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "name", "url"],
                "additionalProperties": False,
                "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "url": {"type": "string"}},
            },
        },
        "links": {
            "type": "object",
            "required": ["login", "logout", "account"],
            "additionalProperties": False,
            "properties": {k: {"type": "string"} for k in ("login", "logout", "account")},
        },
    },
}

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}},
}


def _json(ref: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": ref}}}}


def _headers(*names: str) -> dict[str, Any]:
    known = {
        "Cache-Control": {"schema": {"type": "string", "const": "no-store"}},
        "Vary": {"schema": {"type": "string"}, "description": "Always names Origin and Cookie."},
        "Retry-After": {"schema": {"type": "string"}, "description": "Seconds to wait."},
    }
    return {n: known[n] for n in names}


def document(server_url: str) -> dict[str, Any]:
    busy = {**_json("#/components/schemas/Error", "The store is busy; retry after Retry-After seconds."),
            "headers": _headers("Retry-After")}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Onebar identity API",
            "version": __version__,
            "description": "Who is this browser? One answer for every app's bar.",
        },
        "servers": [{"url": server_url}],
        "paths": {
            "/api/me": {
                "get": {
                    "operationId": "getMe",
                    "summary": "The browser's user (or null), the registered apps and the service's links.",
                    "description": "Send the session cookie (fetch with credentials: 'include'). CORS with "
                    "credentials is granted only to registered app origins.",
                    "responses": {
                        "200": {
                            **_json("#/components/schemas/Me", "Signed in or signed out; never an error."),
                            "headers": _headers("Cache-Control", "Vary"),
                        },
                        "503": busy,
                    },
                }
            },
            "/api/logout": {
                "post": {
                    "operationId": "logout",
                    "summary": "Revoke this browser's session on the server and clear its cookie.",
                    "description": "Only from a registered origin, with Content-Type: application/json. "
                    "The body is ignored (send {}): the JSON content type is what forces the CORS preflight.",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    "responses": {
                        "200": _json("#/components/schemas/Me", "Signed out: the /api/me document with user null."),
                        "403": _json("#/components/schemas/Error", "The request's Origin is not registered."),
                        "415": _json("#/components/schemas/Error", "The body is not JSON."),
                        "503": busy,
                    },
                }
            },
            "/healthz": {
                "get": {
                    "operationId": "health",
                    "summary": "200 when the service and its store answer.",
                    "responses": {
                        "200": {
                            "description": "Healthy.",
                            "content": {"application/json": {"schema": {
                                "type": "object", "required": ["status"],
                                "properties": {"status": {"const": "ok"}}}}},
                        },
                        "503": _json("#/components/schemas/Error", "The store does not answer."),
                    },
                }
            },
        },
        "components": {"schemas": {"Me": _ME, "User": _USER, "Error": _ERROR}},
    }
