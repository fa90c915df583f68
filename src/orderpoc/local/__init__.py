"""The embedded local AWS: moto's server for the AWS APIs, plus a real Lambda runtime, event
source mapping pollers and an API Gateway front, in one detached process on 127.0.0.1.

Client side (cheap to import, used by the CLI): `lifecycle` (start/stop/status/ensure_running),
`notifications.read_outbox`. Everything else runs inside the server process (`server`).
See docs/local.md.
"""
