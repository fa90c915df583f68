"""The JSON Schema (draft 4, as API Gateway models use) of the POST /order body.

API Gateway rejects what does not match before the intake function runs; intake re-checks every
rule itself so it stays correct when invoked any other way. Both read the same limits: the schema
is built from the handler's own rules (lambda_src/orderschema.py), which also checks what a
JSON Schema cannot say (see there).
"""

from typing import Any

from orderpoc.lambda_src import orderschema

ORDER_MODEL: dict[str, Any] = orderschema.order_model()
