"""A local stand-in for Entra ID's device-code sign-in, served over HTTPS for MSAL.

entra = FakeEntra(access_token_lifetime=3600, poll_interval=1)
tls = generate_tls(tmp / "ca.pem")                 # then REQUESTS_CA_BUNDLE=tmp/ca.pem for MSAL
app = create_app(entra)                            # serve with ssl=tls.server_context()
entra.approve(user_code, "admin@contoso.example")  # or POST /_sandbox/approve
entra.is_valid_access_token(token)                 # the Partner Center simulator's token_validator
"""

from __future__ import annotations

from sandbox.entra.app import DEVICE_CODE_GRANT, ENTRA, create_app
from sandbox.entra.server import BackgroundServer, RunningEntra, serve
from sandbox.entra.state import DEFAULT_TENANT_ID, DEFAULT_USERNAME, FakeEntra, object_id_for
from sandbox.entra.tls import TlsFiles, generate_tls

__all__ = [
    "DEFAULT_TENANT_ID",
    "DEFAULT_USERNAME",
    "DEVICE_CODE_GRANT",
    "ENTRA",
    "BackgroundServer",
    "FakeEntra",
    "RunningEntra",
    "TlsFiles",
    "create_app",
    "generate_tls",
    "object_id_for",
    "serve",
]
