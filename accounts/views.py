"""Customer login pages: phone + SMS code. Staff log in with a password at /admin/."""

from django.conf import settings
from django.contrib.auth import login, logout
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from config.api import DomainError
from config.net import client_ip

from . import services
from .forms import CodeLoginForm, CodeRequestForm
from .throttles import AuthCodeThrottle, AuthTokenThrottle, throttle_wait

LOGIN_BACKEND = "accounts.backends.RoleModelBackend"


def _safe_next(request) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return ""


def _too_many_requests(seconds: int) -> str:
    return _("Too many attempts from your network. Please try again in %(seconds)d seconds.") % {"seconds": seconds}


def _send_code(request, form) -> bool:
    """Ask for a code for the form's phone; on refusal the reason becomes a form error."""
    if not form.is_valid():
        return False
    wait = throttle_wait(AuthCodeThrottle(), request)
    if wait is not None:
        form.add_error("phone", _too_many_requests(wait))
        return False
    try:
        services.sms_code_request(phone=form.cleaned_data["phone"], ip=client_ip(request))
    except DomainError as exc:
        form.add_error("phone", str(exc.message))
        return False
    return True


def _ttl_minutes() -> int:
    return int(settings.SMS_CODE_TTL.total_seconds() // 60)


@sensitive_post_parameters("code")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request):
    """One page, two buttons: "Send code" (action=send) and "Log in" (the default)."""
    next_url = _safe_next(request)
    code_sent_to = ""
    if request.method == "POST" and request.POST.get("action") == "send":
        form = CodeLoginForm(request.POST, require_code=False)
        if _send_code(request, form):
            code_sent_to = form.cleaned_data["phone"]
    elif request.method == "POST":
        form = CodeLoginForm(request.POST)
        wait = throttle_wait(AuthTokenThrottle(), request) if form.is_valid() else None
        if wait is not None:
            form.add_error("code", _too_many_requests(wait))
        elif form.is_valid():
            try:
                user = services.customer_login_with_code(
                    phone=form.cleaned_data["phone"], code=form.cleaned_data["code"], ip=client_ip(request)
                )
            except DomainError as exc:
                form.add_error("phone" if exc.code == "invalid_phone" else "code", str(exc.message))
            else:
                login(request, user, backend=LOGIN_BACKEND)
                return redirect(next_url or resolve_url(settings.LOGIN_REDIRECT_URL))
    else:
        form = CodeLoginForm(initial={"phone": request.GET.get("phone", "")})
    context = {
        "form": form,
        "next": next_url,
        "code_sent_to": code_sent_to,
        "ttl_minutes": _ttl_minutes(),
    }
    return render(request, "accounts/login.html", context)


@csrf_protect
@never_cache
@require_POST
def login_code_view(request):
    """HTMX "Send code": answers a fragment that replaces the code status line.

    Errors are answered with status 200 too, because htmx swaps only successful responses.
    """
    form = CodeRequestForm(request.POST)
    sent = _send_code(request, form)
    context = {
        "sent": sent,
        "errors": form.errors.get("phone", []),
        "code_sent_to": form.cleaned_data.get("phone", "") if sent else "",
        "ttl_minutes": _ttl_minutes(),
    }
    return render(request, "accounts/_code_status.html", context)


@require_POST
def logout_view(request):
    logout(request)
    return redirect(resolve_url(settings.LOGOUT_REDIRECT_URL))
