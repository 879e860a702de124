"""marshmallow schemas: request validation, response shapes and the OpenAPI spec."""
