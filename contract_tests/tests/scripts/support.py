"""The inline spec the unit tests of the dev tools (m3ter_dev) edit."""

from __future__ import annotations

from typing import Any

from m3ter_dev.layout import ROOT

__all__ = ["ROOT", "base_spec"]


def base_spec() -> dict[str, Any]:
    """A small spec with one of each thing the classifier looks at (a fresh copy per call)."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "tiny", "version": "1.0.0"},
        "servers": [{"url": "https://api.example.com"}],
        "security": [{"OAuth2": []}],
        "paths": {
            "/things/{id}": {
                "get": {
                    "operationId": "GetThing",
                    "tags": ["Thing"],
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
                        {
                            "name": "fields",
                            "in": "query",
                            "required": False,
                            "style": "form",
                            "explode": False,
                            "schema": {"type": "array", "items": {"type": "string"}},
                        },
                        {"name": "mode", "in": "query", "required": True, "schema": {"type": "string"}},
                    ],
                    "responses": {
                        "200": {
                            "description": "the thing",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}},
                        },
                        "404": {"$ref": "#/components/responses/NotFound"},
                    },
                }
            },
            "/tokens": {
                "post": {
                    "operationId": "CreateToken",
                    "tags": ["Auth"],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TokenRequest"}}},
                    },
                    "responses": {
                        "200": {
                            "description": "a token",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Token"}}},
                        }
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {
                "OAuth2": {"type": "oauth2", "flows": {"clientCredentials": {"tokenUrl": "/oauth/token", "scopes": {}}}}
            },
            "responses": {
                "NotFound": {
                    "description": "missing",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                }
            },
            "schemas": {
                "Thing": {
                    "type": "object",
                    "required": ["id"],
                    "properties": {
                        "id": {"type": "string", "description": "The id."},
                        "name": {"type": "string", "minLength": 1, "maxLength": 10},
                        "made": {"type": "string", "format": "date-time"},
                        "count": {"type": "integer", "format": "int32"},
                        "status": {"$ref": "#/components/schemas/Status"},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "colour": {"type": "string"},
                    },
                },
                "Status": {"type": "string", "enum": ["NEW", "DONE"]},
                "TokenRequest": {
                    "type": "object",
                    "required": ["grant_type"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": ["client_credentials"]},
                        "scope": {"type": "string"},
                    },
                },
                "Token": {
                    "type": "object",
                    "required": ["access_token"],
                    "properties": {"access_token": {"type": "string"}},
                },
                "Error": {"type": "object", "properties": {"message": {"type": "string"}}},
            },
        },
    }
