"""Paysim, the payment sandbox: an external payment provider simulator (see PROTOCOL.md).

It is a provider, not part of our system: it keeps its own state in its own SQLite file and
never touches our database or models. Run it as its own process (``manage.py run_paysim``),
mount it in the demo (``PAYSIM["mount"]``), or build one in-process in tests::

    sim = Paysim(tmp_path / "paysim.sqlite3", merchants={...}, public_base_url="http://paysim.test")
    client = httpx.Client(transport=httpx.WSGITransport(app=sim.wsgi_app), base_url="http://paysim.test")
"""

from .signing import sign, signed_headers, verify
from .sim import Paysim, PaysimError

__all__ = ["Paysim", "PaysimError", "sign", "signed_headers", "verify"]
