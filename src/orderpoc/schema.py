"""The JSON Schema (draft 4, as API Gateway models use) of the POST /order body.

API Gateway rejects what does not match before the intake function runs; intake re-checks every
rule itself (amount precision, totals) so it stays correct when invoked any other way.
"""

ORDER_MODEL = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "title": "Order",
    "type": "object",
    "required": ["customerId", "items"],
    "additionalProperties": False,
    "properties": {
        "customerId": {"type": "string", "minLength": 1, "maxLength": 64},
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "note": {"type": "string", "maxLength": 500},
        "items": {
            "type": "array",
            "minItems": 1,
            "maxItems": 50,
            "items": {
                "type": "object",
                "required": ["sku", "quantity", "unitPrice"],
                "additionalProperties": False,
                "properties": {
                    "sku": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
                    "quantity": {"type": "integer", "minimum": 1, "maximum": 1000},
                    "unitPrice": {"type": ["number", "string"]},
                },
            },
        },
    },
}
