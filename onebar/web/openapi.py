"""The OpenAPI 3.1 description of the JSON API, checked by the test suite."""

from __future__ import annotations

from typing import Any

from .. import __version__
from ..settings import Settings

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
        "cross_site": {
            "const": True,
            "description": "Present when the page asking is on another registrable domain than the service "
            "(from Sec-Fetch-Site, else by comparing Origin): its bar signs in with the hand-off "
            "(GET /authorize, POST /api/token) and sends its site credential as a Bearer token.",
        },
        "events": {
            "type": "string",
            "description": "The URL of the live stream (GET /api/events, server-sent events: session_ended, "
            "profile_changed, apps_changed), when the service runs one. Added in 0.3.",
        },
        "modules": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Paths (under the service) of the bar's lazy modules this page needs: "
            "/onebar-handoff.js on another registrable domain, /onebar-live.js when a live stream runs. "
            "Added in 0.3.",
        },
    },
}

_TOKEN = {
    "type": "object",
    "required": ["credential", "token_type", "expires_in"],
    "additionalProperties": False,
    "properties": {
        "credential": {"type": "string", "description": "The site credential: keep it on the site "
                       "(first-party) and send it as Authorization: Bearer from this origin only."},
        "token_type": {"const": "Bearer"},
        "expires_in": {"type": "integer", "description": "Seconds; it also ends with the service session."},
    },
}

_TOKEN_ERROR = {
    "type": "object",
    "required": ["error", "error_description"],
    "properties": {
        "error": {"enum": ["invalid_request", "invalid_grant", "invalid_client"]},
        "error_description": {"type": "string"},
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
        "Vary": {"schema": {"type": "string"},
                 "description": "Always names Origin, Cookie, Authorization and Sec-Fetch-Site."},
        "Retry-After": {"schema": {"type": "string"}, "description": "Seconds to wait."},
    }
    return {n: known[n] for n in names}


def document(server_url: str, cookie_name: str = Settings.cookie_name) -> dict[str, Any]:
    """The document for a service at ``server_url`` whose session cookie is ``cookie_name``."""
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
                    "description": "Send the session cookie (fetch with credentials: 'include'), or, from a "
                    "site on another registrable domain, its site credential as Authorization: Bearer (refused "
                    "from any other Origin: user null). CORS with credentials is granted only to registered "
                    "app origins.",
                    "security": [{}, {"cookie": []}, {"siteCredential": []}],
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
                    "security": [{}, {"cookie": []}, {"siteCredential": []}],
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
            "/api/token": {
                "post": {
                    "operationId": "token",
                    "summary": "Exchange a one-time hand-off code and its PKCE verifier for a site credential.",
                    "description": "The code comes back from GET /authorize (not part of this JSON API: a "
                    "top-level page visit) to a registered site; it works once, within 60 seconds, from the "
                    "Origin it was issued to, with the verifier whose S256 challenge started it.",
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {
                            "type": "object", "required": ["code", "code_verifier"],
                            "properties": {"code": {"type": "string", "pattern": "^[A-Za-z0-9_-]{20,100}$"},
                                           "code_verifier": {"type": "string",
                                                             "pattern": "^[A-Za-z0-9._~-]{43,128}$"}}}}},
                    },
                    "responses": {
                        "200": _json("#/components/schemas/Token", "A site credential for the request's Origin."),
                        "400": _json("#/components/schemas/TokenError",
                                     "Malformed, unknown, used, expired, another origin's, or a wrong verifier."),
                        "403": _json("#/components/schemas/TokenError", "The request's Origin is not registered."),
                        "415": _json("#/components/schemas/TokenError", "The body is not a JSON object."),
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
        "components": {
            "schemas": {"Me": _ME, "User": _USER, "Error": _ERROR, "Token": _TOKEN, "TokenError": _TOKEN_ERROR},
            "securitySchemes": {
                "cookie": {"type": "apiKey", "in": "cookie", "name": cookie_name,
                           "description": "The service's session cookie (same-site pages)."},
                "siteCredential": {"type": "http", "scheme": "bearer",
                                   "description": "A site credential from POST /api/token, sent from its origin."},
            },
        },
    }
