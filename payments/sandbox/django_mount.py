"""``/paysim/<path>`` in the demo: a Django view that hands the request to the sandbox's WSGI app.

The sandbox stays a separate provider: the view only translates the request (body, headers,
remote address, the language Django chose) and the answer; no Django middleware or ORM is used
by the sandbox itself. CSRF-exempt because merchant calls are signed and the payer page is the
provider's own form.
"""

from __future__ import annotations

import io
import sys

from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse, JsonResponse
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt

from .app import MAX_BODY_BYTES
from .conf import get_mounted

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "upgrade"}


@csrf_exempt
def paysim_view(request, subpath: str = ""):
    try:
        body = request.body
    except RequestDataTooBig:
        return JsonResponse({"code": "REQUEST_TOO_LARGE", "message": f"the body is larger than {MAX_BODY_BYTES} bytes"},
                            status=413)
    sim = get_mounted()
    path_info = "/" + subpath
    script_name = request.path[: len(request.path) - len(subpath) - 1] if subpath else request.path.rstrip("/")
    environ = {key: value for key, value in request.META.items() if isinstance(value, str)}
    environ.update({
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": script_name.encode("utf-8").decode("latin-1"),
        "PATH_INFO": path_info.encode("utf-8").decode("latin-1"),
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": request.scheme,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "paysim.language": translation.get_language() or "",
    })
    captured: dict = {}

    def start_response(status, headers, exc_info=None):
        captured["status"], captured["headers"] = status, headers
        return lambda _data: None

    chunks = sim.wsgi_app(environ, start_response)
    content = b"".join(chunks)
    response = HttpResponse(content, status=int(captured["status"].split()[0]))
    for name, value in captured["headers"]:
        if name.lower() not in HOP_BY_HOP:
            response[name] = value
    return response
